"""Google Cloud Function backend: ``client`` (HTTPS + Google ID token) and ``server`` (the
function itself, served by functions-framework). Import either module directly: the server
needs flask and functions-framework, the client does not."""
