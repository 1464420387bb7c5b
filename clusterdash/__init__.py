"""clusterdash: a Django dashboard for Dask clusters."""
