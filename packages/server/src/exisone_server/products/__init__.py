"""The publisher's products: GET/POST /api/product, GET/PUT/PATCH/DELETE /api/product/{id}."""
