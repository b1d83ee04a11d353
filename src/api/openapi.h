// The API as an OpenAPI 3.1 document, generated from the route table: each
// route's path parameters, query parameters, body and answer schemas and
// the keys it takes. Served at GET /v1/openapi.json, so clients can be
// generated from the server they talk to.
#pragma once

#include <string>
#include <string_view>

#include "api/router.h"

namespace vitrina {

// Routes tagged "pages" (the dashboard, the demo, the tracker script) are
// files, not API, and are left out.
std::string OpenApiDocument(const Router& router, std::string_view version);

}  // namespace vitrina
