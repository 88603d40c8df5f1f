"""Tools around the rule that never ship in the Lambda: test PKI, events, the sample account, the demo."""
