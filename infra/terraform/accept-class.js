// imgpipe: CloudFront viewer-request function of the /v/* behaviour (docs/VARIANTS.md).
// `auto` variants vary by a format class, never by the raw Accept header: the header becomes
// one of three values (chalicelib/variants.py CLASS_ACCEPT) before CloudFront makes the cache
// key, and the API reads the class back from it. An explicit format (f_...) ignores Accept: one value.
function handler(event) {
  var request = event.request;
  var options = request.uri.split("/").pop();
  if (options.indexOf("f_") === 0 || options.indexOf(",f_") !== -1) {
    request.headers.accept = { value: "*/*" };
    return request;
  }
  var header = request.headers.accept;
  var items = header ? header.value.toLowerCase().split(",") : [];
  var types = {};
  for (var i = 0; i < items.length; i++) {
    var parts = items[i].split(";");
    var media = parts[0].trim();
    var q = 1;
    for (var j = 1; j < parts.length; j++) {
      var pair = parts[j].split("=");
      if (pair[0].trim() === "q") {
        q = Number(pair.length > 1 ? pair[1].trim() : "x");
        if (isNaN(q)) { q = 0; }
      }
    }
    if (q > 0 && media) { types[media] = true; }
  }
  var webp = types["image/webp"] === true;
  var kind = types["image/avif"] ? (webp ? "image/avif,image/webp" : "image/avif") : webp ? "image/webp" : "image/jpeg";
  request.headers.accept = { value: kind };
  return request;
}
