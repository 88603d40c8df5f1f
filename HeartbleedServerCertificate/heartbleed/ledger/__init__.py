"""The key ledger: evidence per public key, kept in one DynamoDB table (docs/ledger.md)."""
