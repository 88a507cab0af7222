{{/* Checks the schema cannot express; included by every Deployment. */}}
{{- define "atelier.validate" -}}
{{- $root := . -}}
{{- $components := include "atelier.components" $root | fromJsonArray -}}
{{- range $name := $components -}}
{{- $cfg := index $root.Values $name -}}
{{- range $callee := $cfg.calls -}}
{{- if not (has $callee $components) -}}
{{- fail (printf "%s.calls: %q is not a component of this chart (known: %s)" $name $callee (join ", " $components)) -}}
{{- end -}}
{{- if eq $callee $name -}}
{{- fail (printf "%s.calls: a component does not call itself" $name) -}}
{{- end -}}
{{- end -}}
{{- if and $cfg.autoscaling.enabled (gt (int $cfg.autoscaling.minReplicas) (int $cfg.autoscaling.maxReplicas)) -}}
{{- fail (printf "%s.autoscaling: minReplicas (%v) exceeds maxReplicas (%v)" $name $cfg.autoscaling.minReplicas $cfg.autoscaling.maxReplicas) -}}
{{- end -}}
{{- end -}}
{{- $jwt := $root.Values.gateway.jwt -}}
{{- if and $root.Values.gateway.enabled (not $jwt.existingSecret) -}}
{{- $asymmetric := false -}}
{{- range $jwt.algorithms -}}
{{- if not (hasPrefix "HS" .) -}}{{- $asymmetric = true -}}{{- end -}}
{{- end -}}
{{- if and $asymmetric (not $jwt.publicKey) -}}
{{- fail "gateway.jwt: an RS/ES/PS/EdDSA algorithm needs gateway.jwt.publicKey or gateway.jwt.existingSecret" -}}
{{- end -}}
{{- /* No generated or default HMAC key: whoever issues staff tokens must share it, so the
operator chooses it (random, at least 32 bytes) and gives it here or in a Secret. */ -}}
{{- if and (not $asymmetric) (not $jwt.secret) -}}
{{- fail (printf "gateway.jwt: %s needs a signing secret of your own: set gateway.jwt.existingSecret (a Secret holding it under gateway.jwt.secretKey) or gateway.jwt.secret (random, at least 32 bytes, e.g. from: openssl rand -base64 48)" (join "," $jwt.algorithms)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
