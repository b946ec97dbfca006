"""Meeting notes by email: the message (text and HTML from Jinja2 templates) and SMTP."""
