# Placeholder until the report work lands: no Vega bundle.
set(LOUPE_VEGA_AVAILABLE OFF)
