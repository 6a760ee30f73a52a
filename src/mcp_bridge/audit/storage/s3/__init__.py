"""The S3 Object Lock store: the only place boto3 is imported."""
