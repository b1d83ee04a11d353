// The pages the engine serves to browsers: the dashboard (/dashboard), the
// demo storefront (/demo) and the tracker script (/tracker/vitrina.js).
#pragma once

#include <string>

#include "api/router.h"

namespace vitrina {

struct WebOptions {
  bool dashboard = true;  // /dashboard: the page asks for the admin key and keeps it in the tab only
  bool demo = true;       // /demo: a storefront over the catalog, using the public key
};

// The pages carry no data: every figure they show comes from the API with
// the key the visitor gives (the dashboard) or the public key (the demo,
// which is handed it by /demo/config.js).
void RegisterWebRoutes(Router* router, const WebOptions& options, const std::string& public_key);

}  // namespace vitrina
