"""Planning: fulfilment (source, lane, last mile per order), consolidation and network design."""
