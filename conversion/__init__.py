"""From raw recordings to the TFRecords of `dataloader.schema`: discovery of recordings in
the raw trees of both flavours, the converter, frame counting and the split lists. The top-level
scripts convert_data.py, framecount.py and generate_lists.py are thin fronts to these."""
