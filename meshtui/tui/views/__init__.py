"""The dashboard's tabs and the views inside them."""
