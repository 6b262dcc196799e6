"""Dataset sources: each turns a config into a RawDataset of full, balanced splits."""
