"""Training: a run's configuration (`config`), the papers' recipes (`recipes`), planning a
run from them (`plan`), the stages of both papers and their specs, and the resumable
training and testing of a run (`session`)."""
