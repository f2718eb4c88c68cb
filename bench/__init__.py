"""`make bench`: naive Pillow vs imgpipe vs libvips on the photo corpus."""
