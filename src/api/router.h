// Matches requests to routes, checks API keys, and turns unmatched or
// unauthorized requests into JSON errors.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.h"

namespace vitrina {

// Who may call a route.
enum class Scope {
  kOpen,    // no key (health checks)
  kPublic,  // the public key (safe to embed in a shop page) or the admin key
  kAdmin,   // the admin key only
};

std::string_view ScopeName(Scope scope);

struct AuthKeys {
  std::string admin_key;   // required by the server; may be empty in tests
  std::string public_key;  // empty: public routes take the admin key only
};

struct RouteRequest {
  HttpRequest http;
  std::vector<std::string> params;  // values of {placeholders}, decoded
  Scope caller = Scope::kOpen;      // the scope the presented key grants
};

using RouteHandler = std::function<void(RouteRequest& request, Responder respond)>;

struct Route {
  HttpMethod method;
  std::string pattern;  // "/v1/items/{id}"
  Scope scope;
  std::string summary;  // one line for docs and `GET /v1`
  RouteHandler handler;
};

// Thread-safe once built: Add during setup, Dispatch from any thread.
class Router {
 public:
  explicit Router(AuthKeys keys) : keys_(std::move(keys)) {}

  void Add(HttpMethod method, std::string pattern, Scope scope, std::string summary, RouteHandler handler);

  // 404 for unknown paths, 405 (with Allow) for known paths with another
  // method, 401 without a valid key, 403 for a key of too small a scope.
  void Dispatch(HttpRequest request, Responder respond) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  // Which scope the request's key grants, or nullopt for an unknown key.
  std::optional<Scope> Authenticate(const HttpRequest& request) const;

  AuthKeys keys_;
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> segments_;  // split patterns, parallel to routes_
};

}  // namespace vitrina
