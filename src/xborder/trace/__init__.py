"""Traceability: GS1 EPCIS 2.0 events, the CBV Event Hash ID and the tamper-evident ledger's
pure parts (chains, Merkle roots, signatures, visibility and exception rules). No I/O here
except reading the shipped EPCIS schema/context files."""
