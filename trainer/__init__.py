"""Training stages of both papers: self-supervised, transfer, supervised, distillation."""
