"""A simulated DualCam acoustic camera (its figures: `dataloader.camera`): a 128-microphone
planar array beside a pinhole camera, with the beamformer that turns microphone signals into
acoustic images.

The datasets of the original papers are private; this package writes raw datasets in
their layouts (see `dualcam.layouts`) so that every tool of the project can run on data
anyone can make. Its scenes have time (events heard and seen at the same instants, and
audio-video offsets), identity (subjects with one look and one voice) and words (captions
with their phrases' time segments): `dualcam.scenes`, `dualcam.recording`.
"""
