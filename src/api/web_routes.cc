#include "api/web_routes.h"

#include <algorithm>
#include <string_view>

#include "common/json_writer.h"
#include "common/strings.h"
#include "web/web_assets.h"

namespace vitrina {
namespace {

// Scripts and styles from this server only: a page cannot be made to load
// someone else's code, nor be framed by another site.
constexpr std::string_view kSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'";

void AddPageHeaders(HttpResponse* response) {
  response->headers.emplace_back("Content-Security-Policy", std::string(kSecurityPolicy));
  response->headers.emplace_back("X-Content-Type-Options", "nosniff");
  response->headers.emplace_back("Referrer-Policy", "same-origin");
}

// Whether the client takes gzip ("gzip", "gzip;q=0.8", not "gzip;q=0").
bool AcceptsGzip(std::string_view accept_encoding) {
  for (std::string_view part : Split(accept_encoding, ",")) {
    part = TrimWhitespace(part);
    const size_t semicolon = part.find(';');
    if (AsciiLower(TrimWhitespace(part.substr(0, semicolon))) != "gzip") continue;
    if (semicolon == std::string_view::npos) return true;
    std::string params = AsciiLower(part.substr(semicolon + 1));
    params.erase(std::remove(params.begin(), params.end(), ' '), params.end());
    return !(params == "q=0" || params == "q=0.0" || params == "q=0.00" || params == "q=0.000");
  }
  return false;
}

HttpResponse AssetResponse(const WebAsset& asset, const HttpRequest& request) {
  HttpResponse response;
  response.content_type = std::string(asset.content_type);
  const bool gzip = !asset.gzip_body.empty() && AcceptsGzip(request.accept_encoding);
  const std::string_view etag = gzip ? asset.gzip_etag : asset.etag;
  // Revalidated on every load (a new build changes the tag), answered 304
  // when unchanged.
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("ETag", std::string(etag));
  response.headers.emplace_back("Vary", "Accept-Encoding");
  AddPageHeaders(&response);
  if (request.if_none_match == etag) {
    response.status = 304;
    return response;
  }
  if (gzip) response.headers.emplace_back("Content-Encoding", "gzip");
  response.body = std::string(gzip ? asset.gzip_body : asset.body);
  return response;
}

// Files, not API: any query string (cache busting) is fine, and the OpenAPI
// document leaves them out.
const RouteSpec kPageSpec{.tag = "pages", .strict = false};

void Serve(Router* router, const std::string& route, std::string_view file, const std::string& summary) {
  const WebAsset* asset = FindWebAsset(file);
  if (asset == nullptr) return;  // not built in: the route stays unknown (404)
  router->Add(HttpMethod::kGet, route, Scope::kOpen, summary,
              [asset](RouteRequest& request, Responder respond) { respond(AssetResponse(*asset, request.http)); },
              kPageSpec);
}

void ServeFolder(Router* router, std::string_view folder, const std::string& page_summary) {
  Serve(router, "/" + std::string(folder), "/" + std::string(folder) + "/index.html", page_summary);
  for (const WebAsset& asset : WebAssets()) {
    const std::string prefix = "/" + std::string(folder) + "/";
    if (!asset.path.starts_with(prefix) || asset.path.ends_with("/index.html")) continue;
    Serve(router, std::string(asset.path), asset.path, "a file of " + prefix);
  }
}

}  // namespace

void RegisterWebRoutes(Router* router, const WebOptions& options, const std::string& public_key) {
  if (options.dashboard) ServeFolder(router, "dashboard", "the dashboard (asks for the admin key)");
  if (options.demo) {
    ServeFolder(router, "demo", "a demo storefront over the catalog (public key)");
    // The demo's settings: the public key, which is meant for shop pages.
    std::string script = "window.VITRINA_DEMO=";
    {
      std::string json;
      JsonWriter w(&json);
      w.BeginObject();
      w.Key("key").String(public_key);
      w.EndObject();
      script += json + ";\n";
    }
    router->Add(HttpMethod::kGet, "/demo/config.js", Scope::kOpen, "the demo storefront's settings",
                [script](RouteRequest&, Responder respond) {
                  HttpResponse response;
                  response.content_type = "text/javascript; charset=utf-8";
                  response.headers.emplace_back("Cache-Control", "no-store");
                  AddPageHeaders(&response);
                  response.body = script;
                  respond(std::move(response));
                },
                kPageSpec);
  }
  Serve(router, "/tracker/vitrina.js", "/tracker/vitrina.js", "the JavaScript tracker for shop pages (window.Vitrina)");
}

}  // namespace vitrina
