"""Message and file formats at the edge: order CSV/JSONL (later EPCIS JSON-LD, CEB XML)."""
