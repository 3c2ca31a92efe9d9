"""Customs and landed cost: dated regimes, tariff tables, the columnar quote, the China CBEC
three-document match, CEB messages and the declaration status machine (see docs/customs.md)."""
