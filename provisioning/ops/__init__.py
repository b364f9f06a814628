"""Operations over AWS and Elasticsearch reads: verify, smoke, rotate, usage, models, evidence, the starter file."""
