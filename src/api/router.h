// Matches requests to routes, checks API keys, answers CORS preflights, and
// turns unmatched or unauthorized requests into JSON errors.
#pragma once

#include <functional>
#include <optional>
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

// Which web origins browsers may call the API from ("*": any). Keys are
// sent explicitly, never as cookies, so allowing an origin grants nothing
// without a key.
struct CorsOptions {
  std::vector<std::string> allowed_origins = {"*"};
};

struct RouteRequest {
  HttpRequest http;
  std::vector<std::string> params;  // values of {placeholders}, decoded
  Scope caller = Scope::kOpen;      // the scope the presented key grants
};

using RouteHandler = std::function<void(RouteRequest& request, Responder respond)>;

// One answered request, for metrics.
struct RequestRecord {
  HttpMethod method = HttpMethod::kGet;
  std::string_view route;     // the matched pattern ("/v1/items/{id}"), or "unmatched"
  std::string_view scenario;  // the {scenario} of the path, if the route has one
  int status = 0;
  double seconds = 0;         // from dispatch to the response
};
using RequestObserver = std::function<void(const RequestRecord& record)>;

// One query parameter a route takes: what requests are checked against and
// what the OpenAPI document lists.
struct QueryParam {
  std::string name;         // "min_price"; "attributes.*" stands for any name after the prefix
  std::string type;         // "string", "integer", "number", "boolean", or "list" (comma-separated)
  std::string description;
  bool required = false;
};

// What a route takes and answers, beyond its path: checked on every request
// (query parameters) and published (GET /v1/openapi.json).
struct RouteSpec {
  std::vector<QueryParam> query;
  std::string body;          // the request body's schema (a name in the OpenAPI components); empty: none
  std::string response;      // the success answer's schema; empty: a JSON object
  int status = 200;          // the success status
  std::string tag;           // the group the route is listed under
  // Query parameters the route does not list are refused (400
  // unknown_parameter); pages (the dashboard, the demo) take any.
  bool strict = true;
};

struct Route {
  HttpMethod method;
  std::string pattern;  // "/v1/items/{id}"
  Scope scope;
  std::string summary;  // one line for docs and `GET /v1`
  RouteHandler handler;
  RouteSpec spec;
};

// Thread-safe once built: Add during setup, Dispatch from any thread.
//
// Keys come in `Authorization: Bearer KEY`. On public routes the public key
// may instead come as `?key=` (navigator.sendBeacon cannot set headers);
// the admin key is never accepted in a URL.
class Router {
 public:
  Router(AuthKeys keys, CorsOptions cors = {}) : keys_(std::move(keys)), cors_(std::move(cors)) {}

  void Add(HttpMethod method, std::string pattern, Scope scope, std::string summary, RouteHandler handler,
           RouteSpec spec = {});

  // 400 for a malformed %-escape in the path, 404 for unknown paths, 405
  // (with Allow) for known paths with another method, 401 without a valid
  // key, 403 for a key of too small a scope, 400 unknown_parameter for a
  // query parameter the route does not take (with the closest it does);
  // 204 for OPTIONS (CORS preflight). Every response to an allowed Origin
  // carries CORS headers.
  void Dispatch(HttpRequest request, Responder respond) const;

  // The error Dispatch would answer before reading a body (unknown route,
  // missing or insufficient key), or nullopt when the request may proceed.
  // Used to refuse "Expect: 100-continue" uploads early.
  std::optional<HttpResponse> Precheck(const HttpRequest& request) const;

  const std::vector<Route>& routes() const { return routes_; }

  // Called with every answered request (from the thread that answers).
  // Set before serving starts.
  void SetObserver(RequestObserver observer) { observer_ = std::move(observer); }

 private:
  struct Match {
    const Route* route = nullptr;
    std::vector<std::string> params;
    Scope caller = Scope::kOpen;
  };

  // The matched, authorized route, or the error response.
  std::optional<HttpResponse> Resolve(const HttpRequest& request, Match* match) const;
  // The 400 for a query parameter `route` does not take, if any.
  std::optional<HttpResponse> CheckQuery(const Route& route, const HttpRequest& request) const;
  // Which scope the request's key grants, or nullopt for an unknown key.
  std::optional<Scope> Authenticate(const HttpRequest& request, Scope route_scope, std::string* problem) const;
  HttpResponse Preflight(const HttpRequest& request, const std::string& allowed_methods) const;
  // Adds Access-Control-Allow-Origin when the request's Origin is allowed.
  void AddCorsHeaders(const std::string& origin, HttpResponse* response) const;

  AuthKeys keys_;
  CorsOptions cors_;
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> segments_;  // split patterns, parallel to routes_
  RequestObserver observer_;
};

}  // namespace vitrina
