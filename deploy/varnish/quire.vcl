# Varnish in front of quire's public answers (verification and the public registry), purged by
# quire itself (`cdn.style = "varnish-ban"` or `"varnish-purge"`, `cdn.purge_url` = this
# Varnish). Every other request passes through uncached.
#
#   BAN   with `X-Purge-Tags: cert-ABCD-EFGH-JKLM registry` (tags separated by one space):
#         every cached answer whose `Surrogate-Key` names one of the tags is dropped.
#   PURGE of one URL: that URL's cached answers (every `Vary` variant) are dropped.
#
# Both only from loopback (`purgers`); widen the ACL to where quire's workers run.
# quire/tests/integration/cdn.rs runs this file with the backend's port replaced.
vcl 4.1;

backend quire {
    .host = "127.0.0.1";
    .port = "8080";
}

acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        # Tags are letters, digits and '-' (quire's `cdn` module): nothing a regex reads
        # specially, so they are joined into one without escaping.
        if (req.http.X-Purge-Tags !~ "^[A-Za-z0-9-]+( [A-Za-z0-9-]+)*$") {
            return (synth(400, "X-Purge-Tags: tags separated by single spaces"));
        }
        ban("obj.http.Surrogate-Key ~ (^|[^A-Za-z0-9-])(" +
            regsuball(req.http.X-Purge-Tags, " ", "|") + ")([^A-Za-z0-9-]|$)");
        return (synth(200, "Banned"));
    }
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        return (purge);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.url ~ "^/(v1/)?verify/" || req.url ~ "^/v1/certificates/public(\?|$)") {
        # Public answers: no key, no session; a cookie or header must not split the cache.
        unset req.http.Cookie;
        unset req.http.Authorization;
        return (hash);
    }
    return (pass);
}

sub vcl_hash {
    # One site behind this cache: the URL alone, so a PURGE finds the answer whatever `Host`
    # it was fetched with.
    hash_data(req.url);
    return (lookup);
}

sub vcl_backend_response {
    # Only what quire tagged is cached (a 404 or an error is not): a tagged answer is one a
    # purge can reach. Its lifetime is quire's `Cache-Control: max-age`.
    if (!beresp.http.Surrogate-Key) {
        set beresp.uncacheable = true;
        set beresp.ttl = 1s;
        return (deliver);
    }
    # No grace: a copy past its max-age is never served while a fresh one is fetched (a
    # certificate revoked while its purge could not be sent shows so at max-age, not later).
    set beresp.grace = 0s;
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
