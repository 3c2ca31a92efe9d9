"""Settlement: the double-entry ledger, the escrow lifecycle, SLA terms and the benefit split."""
