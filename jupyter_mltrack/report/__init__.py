"""Views of runs as documents: diffs between runs (nbdime) and exported reports (nbconvert)."""
