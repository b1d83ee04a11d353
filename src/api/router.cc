#include "api/router.h"

#include <algorithm>
#include <chrono>

#include "common/strings.h"

namespace vitrina {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  for (std::string_view part : Split(path, "/")) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

bool IsPlaceholder(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

std::string MethodForMessage(const HttpRequest& request) {
  return request.method_name.empty() ? std::string(HttpMethodName(request.method))
                                     : PrintableAscii(request.method_name, 32);
}

}  // namespace

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kOpen: return "open";
    case Scope::kPublic: return "public";
    case Scope::kAdmin: return "admin";
  }
  return "?";
}

void Router::Add(HttpMethod method, std::string pattern, Scope scope, std::string summary, RouteHandler handler,
                 RouteSpec spec) {
  std::vector<std::string> segments;
  for (std::string_view part : SplitPath(pattern)) segments.emplace_back(part);
  segments_.push_back(std::move(segments));
  routes_.push_back(
      Route{method, std::move(pattern), scope, std::move(summary), std::move(handler), std::move(spec)});
}

std::optional<HttpResponse> Router::CheckQuery(const Route& route, const HttpRequest& request) const {
  if (!route.spec.strict) return std::nullopt;
  const std::vector<QueryParam>& params = route.spec.query;
  for (const auto& [name, value] : request.query) {
    if (name == "key" && route.scope == Scope::kPublic) continue;  // the public key, for sendBeacon
    const bool known = std::any_of(params.begin(), params.end(), [&](const QueryParam& param) {
      if (param.name.ends_with(".*")) {
        const std::string_view prefix = std::string_view(param.name).substr(0, param.name.size() - 1);
        return name.size() > prefix.size() && name.starts_with(prefix);
      }
      return param.name == name;
    });
    if (known) continue;
    std::string message = "unknown query parameter '" + PrintableAscii(name, 40) + "' for " +
                          std::string(HttpMethodName(route.method)) + " " + route.pattern;
    size_t best = std::max<size_t>(3, name.size() / 3 + 1);
    std::string suggestion;
    for (const QueryParam& param : params) {
      const size_t distance = LevenshteinDistance(name, param.name);
      if (distance < best) {
        best = distance;
        suggestion = param.name;
      }
    }
    if (!suggestion.empty()) {
      message += "; did you mean '" + suggestion + "'?";
    } else if (params.empty()) {
      message += ", which takes none";
    } else {
      std::vector<std::string> names;
      for (const QueryParam& param : params) names.push_back(param.name);
      message += " (it takes: " + Join(names, ", ") + ")";
    }
    return ErrorResponse(400, "unknown_parameter", message, PrintableAscii(name, 40));
  }
  return std::nullopt;
}

std::optional<Scope> Router::Authenticate(const HttpRequest& request, Scope route_scope, std::string* problem) const {
  std::string_view header = TrimWhitespace(request.authorization);
  if (header.empty()) {
    const std::string* key = request.Query("key");
    if (key == nullptr) return Scope::kOpen;
    if (!keys_.admin_key.empty() && ConstantTimeEquals(*key, keys_.admin_key)) {
      *problem = "the admin key must not be sent in a URL (it would end up in logs); use the Authorization header";
      return std::nullopt;
    }
    if (route_scope == Scope::kPublic && !keys_.public_key.empty() && ConstantTimeEquals(*key, keys_.public_key)) {
      return Scope::kPublic;
    }
    *problem = route_scope == Scope::kPublic ? "the API key is not valid"
                                             : "?key= is accepted only on public routes; use the Authorization header";
    return std::nullopt;
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || AsciiLower(header.substr(0, kBearer.size())) != "bearer ") {
    *problem = "the Authorization header must be 'Bearer <key>'";
    return std::nullopt;
  }
  std::string_view key = TrimWhitespace(header.substr(kBearer.size()));
  if (!keys_.admin_key.empty() && ConstantTimeEquals(key, keys_.admin_key)) return Scope::kAdmin;
  if (!keys_.public_key.empty() && ConstantTimeEquals(key, keys_.public_key)) return Scope::kPublic;
  *problem = "the API key is not valid";
  return std::nullopt;
}

std::optional<HttpResponse> Router::Resolve(const HttpRequest& request, Match* match) const {
  std::vector<std::string> path;
  for (std::string_view raw : SplitPath(request.path)) {
    auto decoded = PercentDecode(raw, false);
    if (!decoded) return ErrorResponse(400, "bad_request", "malformed %-escape in the path");
    if (!IsValidUtf8(*decoded)) return ErrorResponse(400, "bad_request", "the path is not UTF-8 text once %-decoded");
    path.push_back(std::move(*decoded));
  }
  std::string allowed;
  for (size_t r = 0; r < routes_.size(); ++r) {
    const auto& pattern = segments_[r];
    if (pattern.size() != path.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < path.size() && ok; ++i) {
      ok = IsPlaceholder(pattern[i]) ? !path[i].empty() : pattern[i] == path[i];
    }
    if (!ok) continue;
    const bool method_ok = routes_[r].method == request.method ||
                           (request.method == HttpMethod::kHead && routes_[r].method == HttpMethod::kGet);
    if (method_ok && match->route == nullptr) {
      match->route = &routes_[r];
      for (size_t i = 0; i < path.size(); ++i) {
        if (IsPlaceholder(pattern[i])) match->params.push_back(path[i]);
      }
    }
    if (!allowed.empty()) allowed += ", ";
    allowed += HttpMethodName(routes_[r].method);
    if (routes_[r].method == HttpMethod::kGet) allowed += ", HEAD";
  }
  if (request.method == HttpMethod::kOptions && !allowed.empty()) return Preflight(request, allowed);
  if (match->route == nullptr) {
    if (!allowed.empty()) {
      HttpResponse response = ErrorResponse(405, "method_not_allowed",
                                            MethodForMessage(request) + " is not allowed on " + request.path +
                                                "; allowed: " + allowed);
      response.headers.emplace_back("Allow", allowed);
      return response;
    }
    return ErrorResponse(404, "not_found", "no route for " + std::string(TruncateUtf8(request.path, 200)));
  }

  const Scope scope = match->route->scope;
  std::string problem;
  const std::optional<Scope> caller = Authenticate(request, scope, &problem);
  if (scope != Scope::kOpen) {
    if (!caller || *caller == Scope::kOpen) {
      HttpResponse response = ErrorResponse(
          401, "unauthorized",
          caller ? "this endpoint needs an API key: send the header 'Authorization: Bearer <key>'" : problem);
      response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"vitrina\"");
      return response;
    }
    if (scope == Scope::kAdmin && *caller != Scope::kAdmin) {
      return ErrorResponse(403, "forbidden",
                           "the public key may not call " + std::string(HttpMethodName(match->route->method)) + " " +
                               match->route->pattern + "; use the admin key");
    }
  }
  match->caller = caller.value_or(Scope::kOpen);
  return CheckQuery(*match->route, request);
}

HttpResponse Router::Preflight(const HttpRequest& request, const std::string& allowed_methods) const {
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  response.headers.emplace_back("Allow", allowed_methods);
  if (!request.origin.empty()) {
    response.headers.emplace_back("Access-Control-Allow-Methods", allowed_methods);
    response.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Vitrina-Actor");
    response.headers.emplace_back("Access-Control-Max-Age", "600");
  }
  return response;
}

void Router::AddCorsHeaders(const std::string& origin, HttpResponse* response) const {
  if (origin.empty()) return;
  const auto& origins = cors_.allowed_origins;
  const bool any = std::find(origins.begin(), origins.end(), "*") != origins.end();
  if (!any && std::find(origins.begin(), origins.end(), origin) == origins.end()) return;
  response->headers.emplace_back("Access-Control-Allow-Origin", any ? "*" : PrintableAscii(origin, 512));
  if (!any) response->headers.emplace_back("Vary", "Origin");
}

std::optional<HttpResponse> Router::Precheck(const HttpRequest& request) const {
  Match match;
  return Resolve(request, &match);
}

void Router::Dispatch(HttpRequest request, Responder respond) const {
  Match match;
  std::optional<HttpResponse> error = Resolve(request, &match);
  if (observer_) {
    const Route* route = error ? nullptr : match.route;
    std::string_view scenario;
    if (route != nullptr && route->pattern.find("{scenario}") != std::string::npos && !match.params.empty()) {
      scenario = match.params[0];
    }
    respond = [this, route, scenario = std::string(scenario), method = request.method,
               start = std::chrono::steady_clock::now(), respond = std::move(respond)](HttpResponse response) {
      const RequestRecord record{
          .method = method,
          .route = route != nullptr ? std::string_view(route->pattern) : std::string_view("unmatched"),
          .scenario = scenario,
          .status = response.status,
          .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
      observer_(record);
      respond(std::move(response));
    };
  }
  if (error) {
    AddCorsHeaders(request.origin, &*error);
    respond(std::move(*error));
    return;
  }
  if (!request.origin.empty()) {
    // Wrap the responder so the handler's answer carries CORS headers too.
    respond = [this, origin = request.origin, respond = std::move(respond)](HttpResponse response) {
      AddCorsHeaders(origin, &response);
      respond(std::move(response));
    };
  }
  RouteRequest route_request{std::move(request), std::move(match.params), match.caller};
  match.route->handler(route_request, std::move(respond));
}

}  // namespace vitrina
