// Plain HTTP request and response values, independent of the server
// library, so handlers and the router are tested without sockets.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vitrina {

enum class HttpMethod { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

std::string_view HttpMethodName(HttpMethod method);

struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string method_name;  // as sent, for messages ("PROPFIND")
  std::string path;  // percent-decoding happens per path segment in the router
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string body;
  std::string content_type;
  std::string authorization;
  std::string origin;              // Origin (browsers)
  std::string actor;               // X-Vitrina-Actor: who makes a change, for audit logs
  std::string if_none_match;       // If-None-Match (conditional GET of the web pages)
  std::string accept_encoding;     // Accept-Encoding (gzip for the web pages)

  // First value of a query parameter, or nullptr.
  const std::string* Query(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

// Delivers the response; call exactly once, from any thread.
using Responder = std::function<void(HttpResponse)>;

// Splits "/a/b?x=1&y=%20" into path and decoded query parameters. Returns
// false, saying why in *problem and naming the parameter in *field (when
// given), when the query has a malformed %-escape or a name or value that
// is not UTF-8 once decoded.
bool ParseTarget(std::string_view target, std::string* path,
                 std::vector<std::pair<std::string, std::string>>* query, std::string* problem = nullptr,
                 std::string* field = nullptr);

// A response with a JSON body.
HttpResponse JsonResponse(int status, std::string body);

// {"error":{"code":...,"message":...,"field":...,"index":...}}; field and
// index are null when they do not apply.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field = {}, std::optional<size_t> index = std::nullopt);

// The response for a failed Status: 400 (InvalidArgument), 404 (NotFound),
// 409 (AlreadyExists, ResourceExhausted), 503 with Retry-After
// (Unavailable), else 500. The error names the field the message starts
// with ("item_id: ..."), else `field`.
HttpResponse StatusError(const Status& status, std::string_view field = {});

// Query parameters for handlers. Each leaves *out as it was when the
// parameter is absent, and returns the 400 (naming the parameter) to send
// for a bad value.
// "true"/"1" or "false"/"0".
std::optional<HttpResponse> ParseBoolQuery(const HttpRequest& http, std::string_view name, bool* out);
// A whole number from `low` to `high`.
std::optional<HttpResponse> ParseCountQuery(const HttpRequest& http, std::string_view name, size_t low, size_t high,
                                            size_t* out);
// Who makes a change, from X-Vitrina-Actor, for audit logs ("admin" when
// absent): UTF-8 text of at most 100 bytes without control characters.
std::optional<HttpResponse> ReadActor(const HttpRequest& http, std::string* actor);
// A price: a number >= 0.
std::optional<HttpResponse> ParsePriceQuery(const HttpRequest& http, std::string_view name, std::optional<double>* out);

}  // namespace vitrina
