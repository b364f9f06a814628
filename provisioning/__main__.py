from provisioning.cli.app import main

main()
