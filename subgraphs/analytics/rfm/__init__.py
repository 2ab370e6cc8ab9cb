"""RFM: recency, frequency and monetary scores, and the segments made of them."""
