"""The HeartbleedServerCertificate evaluation core, one module a line (tests/test_layout.py keeps it whole).

account              one account's verdicts: list, read, record in the ledger, judge (both triggers, the CLI)
acm                  ACM certificates: the imported ones to judge, the ones ACM issued (NOT_APPLICABLE)
certificate          the facts about one certificate, and the PEM reader
clients              how boto3 clients are built: retries, pool size, checked PutEvaluations, counted calls
container            what a warm Lambda container keeps: bodies read, registrations, members, SDK
configuration_item   what a Config change event says about a certificate (deleted, out of scope)
deadline             the Lambda time budget: stop while there is still time to say so
earlier_evaluations  the rule's earlier rows in Config, for retiring those of certificates that are gone
event_document       the event document Config sends, checked before rdklib reads it
evidence             listed certificates into evidence: the concurrent body reads IAM and ACM share
iam                  IAM server certificates: the thin AWS layer under the verdict
organization_guard   an organization rule's function serves its own organization's copies only
pacing               client-side rate control for the concurrent body reads
parameters           the rule parameters, and the one cutoff parser
retry_policy         one retry policy: throttling codes, client config, what Lambda retries
run_log              a run's one structured log line, never a body, key or token
verdict              the one verdict function (pure), and the numbered scenarios
ledger/              the key ledger (docs/ledger.md; its __init__ names the interface):
  errors             LedgerError and its kinds: every failure to read or write the ledger
  store              one DynamoDB table: items, batches and retries, conditional writes, claims
  schema             the items' shapes: keys, attributes, version, and the typed records
  records            class Ledger: typed reads and conditional writes of evidence
  leases             the account's read lease, with its own expiry
  kept_requests      re-evaluations owed and not yet accepted by Config
  member_runs        each member's last success and failure
  operator_acts      the operator's Scans and logged removals (never called by the rule)
  protocol           LedgerRun: one account's run's use of the ledger
  propagation        new evidence reaches every account carrying the key
"""
