"""Reading the project's TFRecords: the record schema (`dataloader.schema`) and the input
pipelines built on it. Import the submodules you need; this package imports nothing."""
