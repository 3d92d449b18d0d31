"""Images: loading and normalisation, OCR, render-and-compare for figure tasks."""
