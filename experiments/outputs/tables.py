"""Small table helpers the experiment kinds share."""


def table_of_rows(rows):
    """The results table of a list of row dicts: blanks (not NaN) where a measure does not apply."""
    import pandas as pd

    table = pd.DataFrame(rows)
    return table.astype(object).where(table.notna(), "")
