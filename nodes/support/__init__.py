"""What the nodes share and are not nodes themselves (imported as ``autorust.nodes.support``):
model calls (shared), the evidence grammar, untrusted-text fencing, running a spec's tests
(execution) and the spec read from OCR text."""
