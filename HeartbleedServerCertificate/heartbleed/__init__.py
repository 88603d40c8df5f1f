"""The HeartbleedServerCertificate evaluation core.

parameters     the rule parameters and the one cutoff parser
certificate    the facts about one certificate, and the PEM reader
verdict        the one verdict function (pure)
configuration_item  what a Config change event says about a certificate
iam / account  the thin IAM layer and the account-wide assessment
clients        the rule's SDK session and its hooks (timestamps, FailedEvaluations, call counts)
retry_policy   every retry: botocore's, the ledger's batches', and what Lambda retries
container      what a warm Lambda container keeps between invocations
"""
