"""The public tracking page, `/track/<token>`: what a share link opens, without signing in."""
