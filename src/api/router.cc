#include "api/router.h"

#include "common/strings.h"

namespace vitrina {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  for (std::string_view part : Split(path, "/")) {
    if (!part.empty()) parts.emplace_back(part);
  }
  return parts;
}

bool IsPlaceholder(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
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

void Router::Add(HttpMethod method, std::string pattern, Scope scope, std::string summary, RouteHandler handler) {
  segments_.push_back(SplitPath(pattern));
  routes_.push_back(Route{method, std::move(pattern), scope, std::move(summary), std::move(handler)});
}

std::optional<Scope> Router::Authenticate(const HttpRequest& request) const {
  std::string_view header = TrimWhitespace(request.authorization);
  if (header.empty()) return Scope::kOpen;
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || AsciiLower(header.substr(0, kBearer.size())) != "bearer ") {
    return std::nullopt;
  }
  std::string_view key = TrimWhitespace(header.substr(kBearer.size()));
  if (!keys_.admin_key.empty() && ConstantTimeEquals(key, keys_.admin_key)) return Scope::kAdmin;
  if (!keys_.public_key.empty() && ConstantTimeEquals(key, keys_.public_key)) return Scope::kPublic;
  return std::nullopt;
}

void Router::Dispatch(HttpRequest request, Responder respond) const {
  const std::vector<std::string> path = SplitPath(request.path);
  std::vector<std::string> params;
  std::string allowed;
  const Route* match = nullptr;
  for (size_t r = 0; r < routes_.size(); ++r) {
    const auto& pattern = segments_[r];
    if (pattern.size() != path.size()) continue;
    std::vector<std::string> candidate;
    bool ok = true;
    for (size_t i = 0; i < path.size() && ok; ++i) {
      if (IsPlaceholder(pattern[i])) {
        auto decoded = PercentDecode(path[i], false);
        ok = decoded.has_value() && !decoded->empty();
        if (ok) candidate.push_back(std::move(*decoded));
      } else {
        ok = pattern[i] == path[i];
      }
    }
    if (!ok) continue;
    const bool method_ok = routes_[r].method == request.method ||
                           (request.method == HttpMethod::kHead && routes_[r].method == HttpMethod::kGet);
    if (method_ok && match == nullptr) {
      match = &routes_[r];
      params = std::move(candidate);
    }
    if (!allowed.empty()) allowed += ", ";
    allowed += HttpMethodName(routes_[r].method);
  }
  if (match == nullptr) {
    if (!allowed.empty()) {
      HttpResponse response = ErrorResponse(405, "method_not_allowed",
                                            std::string(HttpMethodName(request.method)) + " is not allowed on " +
                                                request.path + "; allowed: " + allowed);
      response.headers.emplace_back("Allow", allowed);
      respond(std::move(response));
      return;
    }
    respond(ErrorResponse(404, "not_found", "no route for " + request.path));
    return;
  }

  const std::optional<Scope> caller = Authenticate(request);
  if (match->scope != Scope::kOpen) {
    if (!caller || *caller == Scope::kOpen) {
      HttpResponse response =
          ErrorResponse(401, "unauthorized",
                        caller ? "this endpoint needs an API key: send the header 'Authorization: Bearer <key>'"
                               : "the API key is not valid");
      response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"vitrina\"");
      respond(std::move(response));
      return;
    }
    if (match->scope == Scope::kAdmin && *caller != Scope::kAdmin) {
      respond(ErrorResponse(403, "forbidden",
                            "the public key may not call " + std::string(HttpMethodName(match->method)) + " " +
                                match->pattern + "; use the admin key"));
      return;
    }
  }
  RouteRequest route_request{std::move(request), std::move(params), caller.value_or(Scope::kOpen)};
  match->handler(route_request, std::move(respond));
}

}  // namespace vitrina
