"""What the synthetic AWS export is made of: accounts, regions, the usage lines (service, SKU, unit, list price,
commitment) with their weights, and the commitments (a Compute Savings Plan, an RDS Reserved Instance)."""

from __future__ import annotations

PAYER = ("111122223333", "Acme Corp")  # the management (billing) account
ACCOUNTS = (  # linked accounts: FOCUS SubAccount
    ("210987654321", "acme-prod"),
    ("323456789012", "acme-staging"),
    ("434567890123", "acme-data"),
    ("545678901234", "acme-sandbox"),
)
REGIONS = (
    ("us-east-1", "US East (N. Virginia)"),
    ("us-west-2", "US West (Oregon)"),
    ("eu-west-1", "Europe (Ireland)"),
)
EC2, S3, RDS = (
    "Amazon Elastic Compute Cloud",
    "Amazon Simple Storage Service",
    "Amazon Relational Database Service",
)
LAMBDA, CLOUDFRONT, TRANSFER = "AWS Lambda", "Amazon CloudFront", "AWS Data Transfer"
SP_SERVICE = "Savings Plans for AWS Compute usage"
SAVINGS_PLAN = "arn:aws:savingsplans::111122223333:savingsplan/3f5e1c2a-7b8d-4e6f-9a0b-1c2d3e4f5a6b"
RESERVATION = "arn:aws:rds:us-east-1:210987654321:ri:acme-prod-db-r6g"
SP_DAILY_COMMITMENT = 1.20 * 24  # $1.20 an hour
RI_DAILY_FEE = 0.142 * 24 * 2  # two db.r6g.large reserved, all-upfront amortised daily

# (service, x_ServiceCode, SkuId, x_UsageType, x_Operation, unit, list price, description, commitment, resource
# prefix, quantity range, weight). commitment: None, "sp" (Compute Savings Plan) or "ri" (RDS reservation).
USAGE = (
    (EC2, "AmazonEC2", "8VCNEHQMSCQS4P39", "BoxUsage:m5.large", "RunInstances", "Hours", 0.096,
     "$0.096 per On Demand Linux m5.large Instance Hour", None, "i-0a", (0.25, 1.0), 0.18),
    (EC2, "AmazonEC2", "Q6FFSFPJ5BNFCQTJ", "BoxUsage:c6i.xlarge", "RunInstances", "Hours", 0.17,
     "Compute Savings Plan covered c6i.xlarge Instance Hour", "sp", "i-0c", (0.5, 1.0), 0.16),
    (EC2, "AmazonEC2", "HY3BZPP2B6K8MSJF", "EBS:VolumeUsage.gp3", "CreateVolume-Gp3", "GB-Hours", 0.0001096,
     "$0.08 per GB-month of General Purpose (gp3) provisioned storage", None, "vol-0", (20.0, 500.0), 0.08),
    (S3, "AmazonS3", "WP9ANXZGBYYSGJEA", "TimedStorage-ByteHrs", "StandardStorage", "GB-Hours", 0.0000315,
     "$0.023 per GB - first 50 TB / month of storage used", None, "acme-bucket-", (100.0, 5000.0), 0.08),
    (S3, "AmazonS3", "JDHJQP8DZR2AVNCJ", "Requests-Tier1", "PutObject", "Requests", 0.000005,
     "$0.005 per 1,000 PUT, COPY, POST, or LIST requests", None, "acme-bucket-", (1000.0, 90000.0), 0.08),
    (RDS, "AmazonRDS", "8KGT6CMZ2XRQ4E3C", "InstanceUsage:db.r6g.large", "CreateDBInstance:0016", "Hours", 0.225,
     "RDS reserved db.r6g.large PostgreSQL Instance Hour", "ri", "db-", (1.0, 1.0), 0.08),
    (LAMBDA, "AWSLambda", "TG3M4CAGBA3NYQBH", "Request", "Invoke", "Requests", 0.0000002,
     "AWS Lambda - Total Requests", None, "function:acme-", (1000.0, 500000.0), 0.08),
    (LAMBDA, "AWSLambda", "9G9Y4HXHVD2B8Q2W", "Lambda-GB-Second", "Invoke", "GB-Seconds", 0.0000166667,
     "AWS Lambda - Total Compute", None, "function:acme-", (100.0, 90000.0), 0.08),
    (CLOUDFRONT, "AmazonCloudFront", "N6MD6QVCR2NQWTZZ", "US-DataTransfer-Out-Bytes", "GET", "GB", 0.085,
     "$0.085 per GB - first 10 TB / month data transfer out", None, "E2QWRUHEXAMPLE", (0.1, 40.0), 0.09),
    (TRANSFER, "AWSDataTransfer", "AAG3PWY6FHSBKYZN", "USE1-USW2-AWS-Out-Bytes", "InterRegion Outbound", "GB",
     0.02, "$0.02 per GB - US East (N. Virginia) data transfer to US West (Oregon)", None, "i-0a", (0.1, 80.0),
     0.09),
)  # fmt: skip
SP_RATE, RI_RATE = 0.119, 0.142  # the covered lines' committed hourly rates (EffectiveCost per hour)
TAG_SETS = (
    {},
    {"user:team": "platform", "user:env": "prod"},
    {"user:team": "data", "user:env": "prod"},
    {"user:team": "web", "user:env": "staging"},
    {"user:team": "ml", "user:env": "dev"},
)
COST_CATEGORIES = {"210987654321": "Production", "323456789012": "Pre-production", "434567890123": "Data"}
