"""The only importers of elasticsearch, urllib3 and boto3, and the readers of files and the environment."""
