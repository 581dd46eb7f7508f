"""Orkestra's template function catalogue: one table row (at least) per function,
Go/sprig semantics, limits, and a few properties (ORKESTRA-LANGUAGE.md 1.5)."""

from __future__ import annotations

import base64
import datetime
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orkestra_trio.katalog._gotemplate.library import timecron
from orkestra_trio.katalog.enrichment import pod_summary, warning_summary
from orkestra_trio.katalog.sentinels import FIRED_KEY, SENTINELS
from orkestra_trio.katalog.template import REGISTRY, TemplateRenderError, compile_template

NOW = datetime.datetime(2026, 12, 2, 10, 30, tzinfo=datetime.UTC)  # a Wednesday

POD_OK = {
    "metadata": {"name": "db-0", "labels": {"job-name": "j"}},
    "spec": {"nodeName": "n1"},
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.5",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"restartCount": 1, "state": {"running": {}}}],
    },
}
POD_BAD = {
    "metadata": {"name": "db-1"},
    "status": {
        "phase": "Failed",
        "containerStatuses": [
            {
                "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
            }
        ],
    },
}
DEPLOY = {
    "metadata": {
        "name": "web",
        "uid": "d1",
        "generation": 3,
        "labels": {"app": "web", "replicas": "4"},
        "annotations": {"team": "a"},
        "ownerReferences": [{"kind": "Site", "name": "s", "controller": True}],
        "creationTimestamp": "2026-12-01T10:30:00Z",
        "resourceVersion": "42",
    },
    "spec": {
        "replicas": 3,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "nginx:1.27",
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "env": [{"name": "MODE", "value": "fast"}],
                        "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}},
                    }
                ]
            }
        },
    },
    "status": {
        "observedGeneration": 3,
        "replicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "updatedReplicas": 3,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
        ],
    },
}
HPA = {
    "spec": {
        "minReplicas": 2,
        "maxReplicas": 5,
        "scaleTargetRef": {"kind": "Deployment", "name": "web"},
        "metrics": [{"type": "Resource"}],
    },
    "status": {
        "currentReplicas": 5,
        "desiredReplicas": 5,
        "conditions": [
            {"type": "AbleToScale", "status": "True"},
            {"type": "ScalingLimited", "status": "True"},
        ],
    },
}
INGRESS = {
    "spec": {
        "ingressClassName": "nginx",
        "rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/api"}]}}],
        "tls": [{"hosts": ["a.example.com"], "secretName": "t"}],
    },
    "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
}
PVC = {
    "metadata": {"annotations": {"volume.kubernetes.io/storage-provisioner": "csi.x"}},
    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast"},
    "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}},
}
SERVICE = {
    "spec": {"clusterIP": "10.96.0.10", "ports": [{"nodePort": 30080}]},
    "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}},
}
ENDPOINTS = {"subsets": [{"addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}]}]}
NODE = {
    "metadata": {
        "labels": {
            "topology.kubernetes.io/zone": "z1",
            "topology.kubernetes.io/region": "r1",
            "node.kubernetes.io/instance-type": "m5",
        }
    },
    "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
    "status": {
        "allocatable": {"cpu": "4", "memory": "16Gi"},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}
EVENTS = [
    {"type": "Warning", "reason": "BackOff", "message": "restarting"},
    {"type": "Normal", "reason": "Pulled", "message": "ok"},
]
CRONJOB = {
    "metadata": {"name": "cj"},
    "spec": {"schedule": "0 12 * * *"},
    "status": {
        "active": [{"name": "cj-1"}],
        "lastScheduleTime": "2026-12-02T00:00:00Z",
        "lastSuccessfulTime": "2026-12-01T00:00:00Z",
    },
}
JOBS = [
    {
        "metadata": {
            "name": "cj-1",
            "creationTimestamp": "2026-12-01T00:00:00Z",
            "ownerReferences": [{"kind": "CronJob", "name": "cj"}],
        },
        "status": {"succeeded": 1},
    },
    {
        "metadata": {
            "name": "cj-2",
            "creationTimestamp": "2026-12-02T00:00:00Z",
            "ownerReferences": [{"kind": "CronJob", "name": "cj"}],
        },
        "status": {"failed": 1},
    },
]
RS = [
    {
        "metadata": {
            "name": "web-1",
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [
                {"kind": "Deployment", "uid": "d1", "controller": True, "name": "web"}
            ],
        }
    },
    {
        "metadata": {
            "name": "web-2",
            "annotations": {"deployment.kubernetes.io/revision": "2"},
            "ownerReferences": [
                {"kind": "Deployment", "uid": "d1", "controller": True, "name": "web"}
            ],
        }
    },
]

CTX = {
    "metadata": {"name": "my-site", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "name": " Web Frontend ",
        "tags": ["a", "b", "a"],
        "m": {"x": 1, "y": 2},
        "flag": "true",
        "n": "7",
        "empty": "",
    },
    "d": DEPLOY,
    "pods": [POD_OK, POD_BAD],
    "hpa": HPA,
    "ing": INGRESS,
    "pvc": PVC,
    "svc": SERVICE,
    "ep": ENDPOINTS,
    "node": NODE,
    "events": EVENTS,
    "cj": CRONJOB,
    "jobs": JOBS,
    "rs": RS,
    "sc": {"provisioner": "csi.x", "reclaimPolicy": "Retain"},
    "sts": {
        "spec": {"volumeClaimTemplates": [{}, {}]},
        "status": {"currentRevision": "r1", "updateRevision": "r2"},
    },
    "job": {"metadata": {"name": "j"}, "status": {"active": 1, "succeeded": 2, "failed": 0}},
    # Children as enrich gives them (katalog/enrichment.py): the readers read their _keys.
    "ed": {
        **DEPLOY,
        "_pods": [pod_summary(POD_OK), pod_summary(POD_BAD)],
        "_replicaSets": RS,
        "_warnings": [warning_summary(EVENTS[0])],
    },
    "esvc": {
        **SERVICE,
        "_endpoints": [
            {"ip": "10.1.0.1", "port": 80, "ready": True},
            {"ip": "10.1.0.2", "port": 80, "ready": False},
        ],
        "_backingPods": [pod_summary(POD_OK)],
    },
    "epvc": {
        **PVC,
        "_pv": {"spec": {"persistentVolumeReclaimPolicy": "Retain", "accessModes": ["RWX"]}},
        "_storageClass": {"provisioner": "csi.y", "reclaimPolicy": "Delete"},
    },
    "epod": {**POD_OK, "_node": {"name": "n1", "zone": "z2", "region": "r2", "instanceType": "m6"}},
    "ecj": {**CRONJOB, "_lastJob": JOBS[1], "_lastSuccessfulJob": JOBS[0]},
    "ests": {"spec": {"volumeClaimTemplates": [{}, {}]}, "_pvcs": [PVC]},
    "ejob": {"metadata": {"name": "j"}, "_pods": [pod_summary(POD_OK), pod_summary(POD_BAD)]},
    # A CR the gateway applied through the alias "preview" of target "site".
    "served": {
        "metadata": {
            "annotations": {
                "orkestra.orkspace.io/serve-target": "site",
                "orkestra.orkspace.io/serve-alias": "preview",
                "orkestra.orkspace.io/serve-source": "",
            }
        }
    },
}

CASES = [
    # strings
    ("{{ trimSpace .spec.name }}", "Web Frontend"),
    ('{{ "v1.2" | trimPrefix "v" }}', "1.2"),
    ('{{ "a.yaml" | trimSuffix ".yaml" }}', "a"),
    ('{{ "--a--" | trimAll "-" }}', "a"),
    ('{{ split "," "a,b,c" | len }}', "3"),
    ('{{ splitList "," "a,b" }}', "[a b]"),
    ('{{ join "-" .spec.tags }}', "a-b-a"),
    ('{{ concat "a" 1 true }}', "a1true"),
    ('{{ repeat 3 "ab" }}', "ababab"),
    ('{{ "abcdefghij" | truncate 6 }}', "abc..."),
    ('{{ "abc" | truncate 6 }}', "abc"),
    ('{{ "abcdef" | trunc 3 }}', "abc"),
    ('{{ camelToKebab "myHTTPServer" }}', "my-http-server"),
    ('{{ kebabcase "fooBar" }}', "foo-bar"),
    ('{{ snakecase "fooBar" }}', "foo_bar"),
    ('{{ title "hello world" }}', "Hello World"),
    ('{{ upper "a" }}{{ lower "B" }}', "Ab"),
    ('{{ nospace " a b " }}', "ab"),
    ('{{ indent 2 "a\\nb" }}', "  a\n  b"),
    ('{{ nindent 1 "a" }}', "\n a"),
    ('{{ squote "a" }}', "'a'"),
    ('{{ substr 1 3 "hello" }}', "el"),
    ('{{ regexMatch "^web-[0-9]+$" "web-12" }}', "true"),
    ('{{ regexFind "[0-9]+" "web-12x" }}', "12"),
    ('{{ regexReplaceAll "([a-z])-" "a-b-c" "${1}_" }}', "a_b_c"),
    # data
    ('{{ toBase64 "hi" }}', "aGk="),
    ('{{ b64enc "hi" }}', "aGk="),
    ('{{ fromBase64 "aGk=" }}', "hi"),
    ('{{ b64dec "aGk=" }}', "hi"),
    ('{{ sha256sum "abc" }}', "ba7816bf"),
    ('{{ sha256sumFull "abc" | len }}', "64"),
    ('{{ sha1sum "abc" }}', "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ('{{ adler32sum "abc" }}', "38600999"),
    ("{{ toJSON .spec.m }}", '{"x":1,"y":2}'),
    ('{{ (fromJson "{\\"a\\": [1]}").a }}', "[1]"),
    ("{{ toPrettyJson .spec.m }}", '{\n  "x": 1,\n  "y": 2\n}'),
    ('{{ slugify "My Site_Name!!" }}', "my-site-name"),
    ('{{ truncateName "short" }}', "short"),
    ('{{ repoSlug "https://github.com/org/repo.git" }}', "org/repo"),
    ('{{ repoSlug "git@github.com:org/repo" }}', "org/repo"),
    # domain
    ('{{ domainHost "https://www.a.com:8443/x" }}', "www.a.com"),
    ('{{ domainBare "https://www.a.com/x" }}', "a.com"),
    # kubevalidation & validation
    ('{{ isDNS1123Subdomain "a.b-c" }}', "true"),
    ('{{ isDNS1123Subdomain "A_b" }}', "false"),
    ('{{ isDNS1123Label "a.b" }}', "false"),
    ('{{ isValidLabelKey "app.kubernetes.io/name" }}', "true"),
    ('{{ isValidLabelKey "bad key" }}', "false"),
    ('{{ isValidAnnotationKey "team" }}', "true"),
    ('{{ isValidLabelValue "v1.2_x" }}', "true"),
    ('{{ isValidLabelValue "-x" }}', "false"),
    ('{{ isValidEmail "a@b.co" }}', "true"),
    ('{{ isValidURL "https://x.y/z" }}', "true"),
    ('{{ isValidURL "nope" }}', "false"),
    ('{{ isValidGitRepository "git@github.com:a/b.git" }}', "true"),
    ('{{ isValidImageRef "ghcr.io/org/app:1.2" }}', "true"),
    ('{{ isValidImageRef "Bad Image" }}', "false"),
    ('{{ isValidJSON "[1]" }}', "true"),
    ('{{ isValidPort "8080" }}{{ isValidPort "70000" }}', "truefalse"),
    # net
    ('{{ ipValid "10.0.0.1" }}{{ ipValid "x" }}', "truefalse"),
    ('{{ ipIsPrivate "10.0.0.1" }}{{ ipIsPrivate "8.8.8.8" }}', "truefalse"),
    ('{{ cidrContains "10.0.0.0/8" "10.2.3.4" }}', "true"),
    # random (shapes only)
    ("{{ randomAlphanumeric 12 | len }}", "12"),
    ("{{ randAlphaNum 4 | len }}", "4"),
    ("{{ randomHex 7 | len }}", "7"),
    ("{{ randomBase64 3 | len }}", "4"),
    ("{{ uuidv4 | len }}", "36"),
    # semver
    ('{{ semverValid "1.2.3" }}{{ semverValid "x" }}', "truefalse"),
    ('{{ semverMajor "v2.3.4" }}.{{ semverMinor "2.3.4" }}.{{ semverPatch "2.3.4" }}', "2.3.4"),
    ('{{ semverCompare ">=1.2.0, <2" "1.4.0" }}', "true"),
    ('{{ semverCompare "^1.4" "2.0.0" }}', "false"),
    ('{{ semverCompare "~1.4.0" "1.4.9" }}', "true"),
    ('{{ semverCompare ">1.0.0" "1.0.0-rc.1" }}', "false"),
    ('{{ semverConstraint "1.x" "1.9.0" }}', "true"),
    ('{{ semverBump "minor" "1.4.2" }}', "1.5.0"),
    # collections
    ("{{ list 1 2 | len }}", "2"),
    ('{{ (dict "a" 1).a }}', "1"),
    ("{{ asList .spec.m }}", "[1 2]"),
    ('{{ asList "x" | len }}', "1"),
    ('{{ (asMap "{\\"a\\":1}").a }}', "1"),
    ("{{ asString .spec.tags }}", '["a","b","a"]'),
    ("{{ listLen .spec.tags }}", "3"),
    ("{{ listGet .spec.tags -1 }}", "a"),
    ('{{ listGet .spec.tags 9 "none" }}', "none"),
    ('{{ listHas .spec.tags "b" }}', "true"),
    ('{{ has "z" .spec.tags }}', "false"),
    ('{{ mapGet .spec.m "x" }}{{ mapGet .spec.m "q" "-" }}', "1-"),
    ("{{ mapKeys .spec.m }}", "[x y]"),
    ("{{ keys .spec.m }}", "[x y]"),
    ("{{ mapValues .spec.m }}", "[1 2]"),
    ("{{ values .spec.m }}", "[1 2]"),
    ('{{ mapPick .spec.m "x" }}', "map[x:1]"),
    ('{{ pick .spec.m "y" }}', "map[y:2]"),
    ('{{ mapOmit .spec.m "x" }}', "map[y:2]"),
    ('{{ omit .spec.m "y" }}', "map[x:1]"),
    ('{{ hasKey .spec.m "x" }}', "true"),
    ('{{ get .d "status.readyReplicas" }}', "3"),
    ('{{ get .d "status" "replicas" }}', "3"),
    ('{{ dig "m" "x" "none" .spec }}', "1"),
    ('{{ dig "m" "q" "none" .spec }}', "none"),
    ('{{ (merge (dict "a" 1) (dict "a" 2 "b" 3)) }}', "map[a:1 b:3]"),
    ("{{ first .spec.tags }}{{ last .spec.tags }}", "aa"),
    ("{{ rest .spec.tags }}{{ initial .spec.tags }}", "[b a][a b]"),
    ('{{ append .spec.tags "c" }}{{ prepend .spec.tags "z" | len }}', "[a b a c]4"),
    ('{{ concatLists .spec.tags (list "c") | len }}', "4"),
    ("{{ uniq .spec.tags }}", "[a b]"),
    ('{{ without .spec.tags "a" }}', "[b]"),
    ('{{ compact (list "a" "" 0 "b") }}', "[a b]"),
    ("{{ reverse .spec.tags }}", "[a b a]"),
    ('{{ sortAlpha (list "b" "a") }}', "[a b]"),
    ("{{ until 3 }}{{ untilStep 0 6 2 }}", "[0 1 2][0 2 4]"),
    ("{{ seq 3 }}|{{ seq 5 3 }}", "1 2 3|5 4 3"),
    # conditional
    ("{{ empty .spec.empty }}{{ empty .spec.replicas }}", "truefalse"),
    ("{{ Empty .missing }}", "true"),
    ("{{ notEmpty .spec.tags }}", "true"),
    ('{{ coalesce .spec.empty .missing "x" }}', "x"),
    ('{{ ternary "yes" "no" true }}{{ .spec.empty | ternary "yes" "no" }}', "yesno"),
    ('{{ boolTernary .spec.flag "on" "off" }}', "on"),
    ('{{ eqTernary .spec.replicas 3 "three" "other" }}', "three"),
    ("{{ .missing | boolDefault true }}{{ .spec.flag | boolDefault false }}", "truetrue"),
    ('{{ .spec.empty | default "d" }}', "d"),
    # safe access
    ('{{ getOr .spec "missing" "fb" }}', "fb"),
    ('{{ getStringOr . "spec.empty" "fb" }}', "fb"),
    ('{{ getIntOr . "spec.n" 0 }}{{ getIntOr . "spec.name" 9 }}', "79"),
    ('{{ getBoolOr . "spec.flag" false }}{{ getBoolOr . "spec.x" true }}', "truetrue"),
    # types
    (
        "{{ typeOf .spec.replicas }} {{ typeOf .spec.m }} {{ typeOf .missing }}",
        "int map[string]interface {} <nil>",
    ),
    ("{{ kindOf .spec.tags }}", "slice"),
    ('{{ typeBool true }}{{ typeString "a" }}{{ typeNumber 1.5 }}', "truetruetrue"),
    ("{{ typeMap .spec.m }}{{ typeList .spec.tags }}{{ typeNull .missing }}", "truetruetrue"),
    ("{{ isScalar 1 }}{{ isComposite .spec.m }}", "truetrue"),
    ('{{ toBool "yes" }}{{ toInt "12" }}{{ toInt "x" }}{{ atoi "3" }}', "true1203"),
    ('{{ int "4.7" }}{{ int64 5 }}', "45"),
    ('{{ toFloat "2.5" }} {{ float64 3 }}', "2.5 3"),
    ("{{ toString 5 }}{{ toStrings (list 1 true) }}", "5[1 true]"),
    ('{{ toList "a" }}', "[a]"),
    ("{{ len .spec.tags }}", "3"),
    # math
    ("{{ mod 7 3 }} {{ mod -7 3 }}", "1 -1"),
    ("{{ abs -4 }} {{ min 3 1 2 }} {{ max 3 1 2 }}", "4 1 3"),
    ("{{ .spec.replicas | clamp 5 10 }} {{ 42 | clamp 0 10 }}", "5 10"),
    ("{{ add1 1 }} {{ floor 1.7 }} {{ ceil 1.2 }} {{ round 3.14159 2 }}", "2 1 2 3.14"),
    ("{{ percent 1 4 }}", "25"),
    ("{{ add 1 2 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }}", "3 3 6 3"),
    # kubernetes
    ("{{ meta .d | len }} {{ (labels .d).app }} {{ (annotations .d).team }}", "8 web a"),
    ("{{ (spec .d).replicas }} {{ (status .d).readyReplicas }}", "3 3"),
    ("{{ name .d }}/{{ namespace . }}", "web/default"),
    ("{{ generation .d }} {{ observedGeneration .d }}", "3 3"),
    ('{{ getLabel .d "app" }} {{ .d | getLabel "app" }}', "web web"),
    ('{{ getAnnotation .d "team" }}', "a"),
    ('{{ getLabelInt .d "replicas" }} {{ getAnnotationInt .d "x" 7 }}', "4 7"),
    ('{{ hasLabel .d "app" }}{{ hasAnnotation .d "nope" }}', "truefalse"),
    # serve: the gateway's provenance annotations; none at all is a direct apply
    (
        "{{ getServeTarget .served }}/{{ getServeAlias .served }}/{{ getServeSource .served }}",
        "site/preview/",
    ),
    (
        "{{ hasServeTarget .served }} {{ hasServeAlias .served }} {{ hasServeSource .served }}",
        "true true false",
    ),
    (
        "{{ isDirectApply .served }} {{ isDirectApply .d }} {{ hasServeTarget .d }}",
        "false true false",
    ),
    ('{{ getStatus .d "readyReplicas" }}{{ hasStatus .d "missing" }}', "3false"),
    ('{{ hasCondition .d "Available" }}{{ hasCondition .d "Progressing" }}', "truefalse"),
    ('{{ conditionReason .d "Available" }}', "MinimumReplicasAvailable"),
    ('{{ conditionMessage .d "Available" }}|{{ conditionStatus .d "Available" }}', "|True"),
    ("{{ isSynced .d }}{{ isTerminating .d }}", "truefalse"),
    ('{{ labelMatches .d "app=web,tier!=db" }}{{ labelMatches .d "app=api" }}', "truefalse"),
    ("{{ ownerKind .d }}/{{ ownerName .d }}", "Site/s"),
    ("{{ resourceCPU .d }} {{ resourceMemory .d }}", "250m 64Mi"),
    ("{{ resourceExists .d }}{{ resourceExists .missing }}", "truefalse"),
    ('{{ phase (dict "status" (dict "phase" "Ready")) }}', "Ready"),
    # fields
    (
        "{{ creationTimestamp .d }} {{ resourceName .d }} {{ resourceUID .d }} {{ resourceVersion .d }}",
        "2026-12-01T10:30:00Z web d1 42",
    ),
    ("{{ resourceNamespace . }}", "default"),
    # containers
    (
        '{{ containerCount .d }} {{ containerImage .d }} {{ containerImage .d "app" }}',
        "1 nginx:1.27 nginx:1.27",
    ),
    (
        '{{ containerPort .d }} {{ containerPorts .d }} {{ containerPortByName .d "http" }}',
        "8080 [8080] 8080",
    ),
    ('{{ containerEnv .d "MODE" }}', "fast"),
    # replicas
    (
        "{{ readyReplicas .d }} {{ availableReplicas .d }} {{ desiredReplicas .d }} {{ updatedReplicas .d }}",
        "3 3 3 3",
    ),
    ("{{ allReplicasReady .d }}{{ replicasReady .d }}{{ rolloutComplete .d }}", "truetruetrue"),
    ("{{ allReplicasReady .missing }}", "false"),
    # replicasets
    (
        "{{ deploymentReplicaSetCount .d .rs }} {{ deploymentReplicaSets .d .rs }}",
        "2 [web-1 web-2]",
    ),
    ("{{ oldDeploymentReplicaSets .d .rs }}", "[web-1]"),
    (
        "{{ replicaSetOwnerKind (index .rs 0) }}/{{ replicaSetOwnerName (index .rs 0) }}",
        "Deployment/web",
    ),
    # statefulset
    (
        "{{ statefulSetCurrentRevision .sts }} {{ statefulSetUpdateRevision .sts }} {{ statefulSetPVCCount .sts }}",
        "r1 r2 2",
    ),
    # pods
    ("{{ podCount .pods }} {{ readyPodCount .pods }} {{ podNames .pods }}", "2 1 [db-0 db-1]"),
    (
        "{{ podIPs .pods }} {{ podNodes .pods }} {{ podPhases .pods }}",
        "[10.0.0.5] [n1] [Running Failed]",
    ),
    ("{{ name (podByOrdinal .pods 1) }} {{ podMaxRestarts .pods }}", "db-1 5"),
    (
        "{{ podContainerReasons .pods }} {{ podContainerState (index .pods 0) }}",
        "[CrashLoopBackOff OOMKilled] running",
    ),
    (
        "{{ hasCrashingPod .pods }}{{ podCrashLoopDetected .pods }}{{ podOOMKilledDetected .pods }}",
        "truetruetrue",
    ),
    ("{{ podImagePullBackOffDetected .pods }}{{ podErrImagePullDetected .pods }}", "falsefalse"),
    (
        "{{ podInvalidImageNameDetected .pods }}{{ podCreateContainerErrorDetected .pods }}",
        "falsefalse",
    ),
    (
        "{{ podRunContainerErrorDetected .pods }}{{ podPostStartHookErrorDetected .pods }}",
        "falsefalse",
    ),
    ("{{ podPreStartHookErrorDetected .pods }}{{ podErrorDetected .pods }}", "falsetrue"),
    ("{{ podCrashLoopDetected (index .pods 0) }}", "false"),
    # jobs
    ("{{ jobActive .job }} {{ jobSucceeded .job }} {{ jobFailed .job }}", "1 2 0"),
    ("{{ jobActivePodNames .job .pods }} {{ jobSucceededPodNames .job .pods }}", "[db-0] []"),
    ("{{ jobFailedPodNames .job .pods }} {{ jobFirstExitCode .pods }}", "[] 137"),
    (
        "{{ cronJobActiveCount .cj }} {{ cronJobLastJobName .cj }} {{ cronJobLastJobName .cj .jobs }}",
        "1 cj-1 cj-2",
    ),
    (
        "{{ cronJobLastJobSucceeded .cj .jobs }} {{ cronJobLastSuccessfulJobName .cj .jobs }}",
        "false cj-1",
    ),
    (
        "{{ cronJobLastScheduleTime .cj }} {{ cronJobLastSuccessTime .cj }}",
        "2026-12-02T00:00:00Z 2026-12-01T00:00:00Z",
    ),
    ("{{ cronJobNextScheduleTime .cj }}", "2026-12-02T12:00:00Z"),
    # hpa
    (
        "{{ hpaMinReplicas .hpa }} {{ hpaMaxReplicas .hpa }} {{ hpaCurrentReplicas .hpa }} {{ hpaDesiredReplicas .hpa }}",
        "2 5 5 5",
    ),
    ("{{ hpaAtMax .hpa }}{{ hpaScaling .hpa }}{{ hpaAbleToScale .hpa }}", "truefalsetrue"),
    (
        "{{ hpaScalingActive .hpa }}{{ hpaScalingLimited .hpa }} {{ hpaMetricTypes .hpa }}",
        "falsetrue [Resource]",
    ),
    ("{{ hpaScaleTargetKind .hpa }}/{{ hpaScaleTargetName .hpa }}", "Deployment/web"),
    # ingress
    (
        "{{ ingressClassName .ing }} {{ ingressHost .ing }} {{ ingressIP .ing }}",
        "nginx a.example.com 1.2.3.4",
    ),
    (
        "{{ ingressLoadBalancerIPs .ing }} {{ ingressReady .ing }} {{ ingressRules .ing }}",
        "[1.2.3.4] true [a.example.com/api]",
    ),
    ("{{ ingressTLSHosts .ing }} {{ ingressTLSSecretCount .ing }}", "[a.example.com] 1"),
    # pvc
    (
        "{{ pvcPhase .pvc }} {{ pvcBound .pvc }} {{ pvcCapacity .pvc }} {{ pvcAccessModes .pvc }}",
        "Bound true 10Gi [ReadWriteOnce]",
    ),
    (
        "{{ pvcStorageClass .pvc }} {{ pvcVolumeMode .pvc }} {{ pvcProvisioner .pvc }}",
        "fast Filesystem csi.x",
    ),
    ("{{ pvcStorageClassProvisioner .sc }} {{ pvcStorageClassReclaimPolicy .sc }}", "csi.x Retain"),
    # service
    (
        "{{ serviceClusterIP .svc }} {{ serviceNodePort .svc }} {{ serviceLoadBalancerHost .svc }}",
        "10.96.0.10 30080 lb.example.com",
    ),
    (
        "{{ serviceLoadBalancerIP .svc }}|{{ serviceEndpoints .ep }} {{ serviceEndpointCount .ep }}",
        "|[10.1.0.1 10.1.0.2] 2",
    ),
    (
        "{{ serviceFirstEndpoint .ep }} {{ hasEndpoints .ep }} {{ endpointsReady .ep }}",
        "10.1.0.1 true true",
    ),
    ("{{ backingPodCount .pods }} {{ backingPodNames .pods }}", "2 [db-0 db-1]"),
    # node
    (
        "{{ nodeAllocatableCPU .node }} {{ nodeAllocatableMemory .node }} {{ nodeReady .node }}",
        "4 16Gi true",
    ),
    ('{{ nodeCondition .node "Ready" }} {{ nodeTaints .node }}', "True [k=v:NoSchedule]"),
    (
        "{{ podNodeName (index .pods 0) }} {{ podNodeZone .node }} {{ podNodeRegion .node }} {{ podNodeInstanceType .node }}",
        "n1 z1 r1 m5",
    ),
    # warnings
    (
        "{{ hasWarnings .events }} {{ warningCount .events }} {{ warningReasons .events }}",
        "true 1 [BackOff]",
    ),
    ("{{ warningMessages .events }} {{ firstWarning .events }}", "[restarting] restarting"),
    # enriched children (enrich: the readers take the child alone)
    ("{{ podCount .ed }} {{ readyPodCount .ed }} {{ podNames .ed }}", "2 1 [db-0 db-1]"),
    ("{{ podIPs .ed }} {{ podNodes .ed }} {{ podPhases .ed }}", "[10.0.0.5] [n1] [Running Failed]"),
    (
        "{{ podMaxRestarts .ed }} {{ podContainerReasons .ed }} {{ podContainerState .ed }}",
        "5 [CrashLoopBackOff OOMKilled] running",
    ),
    (
        "{{ podCrashLoopDetected .ed }}{{ podOOMKilledDetected .ed }} {{ jobFirstExitCode .ed }}",
        "truetrue 137",
    ),
    ("{{ deploymentReplicaSetCount .ed }} {{ oldDeploymentReplicaSets .ed }}", "2 [web-1]"),
    (
        "{{ hasWarnings .ed }} {{ warningCount .ed }} {{ firstWarningReason .ed }} {{ firstWarning .ed }}",
        "true 1 BackOff restarting",
    ),
    (
        "{{ serviceEndpoints .esvc }} {{ serviceEndpointCount .esvc }} {{ serviceFirstEndpoint .esvc }}",
        "[10.1.0.1:80 10.1.0.2:80] 2 10.1.0.1:80",
    ),
    ("{{ hasEndpoints .esvc }} {{ endpointsReady .esvc }}", "true false"),
    ("{{ backingPodCount .esvc }} {{ backingPodNames .esvc }}", "1 [db-0]"),
    ("{{ pvReclaimPolicy .epvc }} {{ pvAccessModes .epvc }}", "Retain [RWX]"),
    (
        "{{ pvcStorageClassProvisioner .epvc }} {{ pvcStorageClassReclaimPolicy .epvc }}",
        "csi.y Delete",
    ),
    (
        "{{ podNodeZone .epod }} {{ podNodeRegion .epod }} {{ podNodeInstanceType .epod }}",
        "z2 r2 m6",
    ),
    (
        "{{ cronJobLastJobName .ecj }} {{ cronJobLastJobSucceeded .ecj }} {{ cronJobLastSuccessfulJobName .ecj }}",
        "cj-2 false cj-1",
    ),
    ("{{ statefulSetPVCCount .ests }}", "1"),
    ("{{ jobActivePodNames .ejob }} {{ jobFailedPodNames .ejob }}", "[db-0] [db-1]"),
    # time (clock at NOW)
    ("{{ now }}", "2026-12-02T10:30:00Z"),
    ('{{ timeSince "2026-12-02T09:00:00Z" }}', "1h30m0s"),
    ('{{ timeUntil "2026-12-02T10:31:30Z" }}', "1m30s"),
    ('{{ timeAgo "2026-11-30T10:30:00Z" }}', "2d ago"),
    ('{{ timeFormat "2006-01-02 15:04" "2026-12-02T10:30:00Z" }}', "2026-12-02 10:30"),
    ('{{ timeInWindow "09:00" "18:00" }}{{ timeNotInWindow "09:00" "18:00" }}', "truefalse"),
    ("{{ weekday }}{{ weekend }} {{ weekdayName }}", "truefalse Wednesday"),
    (
        '{{ isExpired "2026-12-01T00:00:00Z" }}{{ isExpired "2026-12-01T00:00:00Z" "2d" }}',
        "truefalse",
    ),
    ('{{ nextCron "*/15 * * * *" }}', "2026-12-02T10:45:00Z"),
    ('{{ nextCron "0 9 * * mon" }}', "2026-12-07T09:00:00Z"),
    ('{{ durationAdd "1d" "2026-12-02T10:30:00Z" }}', "2026-12-03T10:30:00Z"),
    ('{{ durationSeconds "1h30m" }} {{ durationSeconds "1w" }}', "5400 604800"),
    ('{{ durationValid "2mo" }}{{ durationValid "2x" }}', "truefalse"),
    # cron
    ('{{ cronValid "*/5 * * * *" }}{{ cronValid "61 * * * *" }}', "truefalse"),
    ('{{ cronNormalize "@daily" }}|{{ cronNormalize "0  1 * * *" }}', "0 0 * * *|0 1 * * *"),
    ('{{ cronField "30 2 * * 1" "hour" }} {{ cronField "30 2 * * 1" 4 }}', "2 1"),
    ('{{ cronMinute "30 2 1 6 1" }}{{ cronHour "30 2 1 6 1" }}{{ cronDom "30 2 1 6 1" }}', "3021"),
    ('{{ cronMonth "30 2 1 6 1" }}{{ cronDow "30 2 1 6 1" }}', "61"),
    ('{{ (cronToMap "30 2 * * 1").hour }}', "2"),
    ('{{ cronFromMap (dict "minute" "0" "hour" "3") }}', "0 3 * * *"),
    ('{{ cronFromAny "@hourly" }}', "0 * * * *"),
    ('{{ cronExpr "0" "4" "*" "*" "*" }}', "0 4 * * *"),
    ('{{ cronDescribe "30 2 * * 1" }}', "At 02:30, on Monday"),
    ('{{ cronDescribe "*/5 * * * *" }}', "Every 5 minutes"),
    # quantity
    (
        '{{ parseQuantity "500m" }} {{ parseQuantity "128Mi" }} {{ parseQuantity "2G" }}',
        "0.5 134217728 2000000000",
    ),
    ('{{ formatQuantity 134217728 "Mi" }} {{ formatQuantity "1.5" "m" }}', "128Mi 1500m"),
    ('{{ sumQuantity "500m" "1" "250m" }} {{ subtractQuantity "1Gi" "512Mi" }}', "1750m 0.5Gi"),
]


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(timecron, "utc_now", lambda: NOW)


@pytest.mark.parametrize(("source", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_catalogue(source, expected):
    assert compile_template(source, name="t").render(CTX) == expected


ORKESTRA_NAMES = [
    "asList",
    "asMap",
    "asString",
    "listGet",
    "listHas",
    "listLen",
    "mapGet",
    "mapKeys",
    "mapValues",
    "mapPick",
    "mapOmit",
    "boolDefault",
    "boolTernary",
    "coalesce",
    "default",
    "empty",
    "eqTernary",
    "notEmpty",
    "ternary",
    "containerEnv",
    "containerImage",
    "containerPort",
    "containerPortByName",
    "containerPorts",
    "containerCount",
    "cronDescribe",
    "cronDom",
    "cronDow",
    "cronExpr",
    "cronField",
    "cronFromAny",
    "cronFromMap",
    "cronHour",
    "cronMinute",
    "cronMonth",
    "cronNormalize",
    "cronToMap",
    "cronValid",
    "fromBase64",
    "toBase64",
    "repoSlug",
    "sha256sum",
    "slugify",
    "toJSON",
    "truncateName",
    "domainBare",
    "domainHost",
    "creationTimestamp",
    "resourceName",
    "resourceNamespace",
    "resourceUID",
    "resourceVersion",
    "hpaAbleToScale",
    "hpaAtMax",
    "hpaCurrentReplicas",
    "hpaDesiredReplicas",
    "hpaMaxReplicas",
    "hpaMetricTypes",
    "hpaMinReplicas",
    "hpaScaleTargetKind",
    "hpaScaleTargetName",
    "hpaScaling",
    "hpaScalingActive",
    "hpaScalingLimited",
    "ingressClassName",
    "ingressHost",
    "ingressIP",
    "ingressLoadBalancerIPs",
    "ingressReady",
    "ingressRules",
    "ingressTLSHosts",
    "ingressTLSSecretCount",
    "jobActive",
    "jobActivePodNames",
    "jobFailed",
    "jobFailedPodNames",
    "jobFirstExitCode",
    "jobSucceeded",
    "jobSucceededPodNames",
    "cronJobActiveCount",
    "cronJobLastJobName",
    "cronJobLastJobSucceeded",
    "cronJobLastScheduleTime",
    "cronJobLastSuccessTime",
    "cronJobLastSuccessfulJobName",
    "cronJobNextScheduleTime",
    "annotations",
    "labels",
    "meta",
    "spec",
    "status",
    "name",
    "namespace",
    "generation",
    "observedGeneration",
    "phase",
    "get",
    "getAnnotation",
    "getAnnotationInt",
    "getLabel",
    "getLabelInt",
    "getStatus",
    "hasAnnotation",
    "hasLabel",
    "hasStatus",
    "hasCondition",
    "conditionMessage",
    "conditionReason",
    "isSynced",
    "isTerminating",
    "labelMatches",
    "ownerKind",
    "ownerName",
    "resourceCPU",
    "resourceMemory",
    "resourceExists",
    "isDNS1123Subdomain",
    "isValidAnnotationKey",
    "isValidLabelKey",
    "isValidLabelValue",
    "abs",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "min",
    "max",
    "clamp",
    "cidrContains",
    "ipIsPrivate",
    "ipValid",
    "nodeAllocatableCPU",
    "nodeAllocatableMemory",
    "nodeCondition",
    "nodeReady",
    "nodeTaints",
    "podNodeInstanceType",
    "podNodeName",
    "podNodeRegion",
    "podNodeZone",
    "podCount",
    "readyPodCount",
    "podNames",
    "podIPs",
    "podNodes",
    "podPhases",
    "podByOrdinal",
    "podMaxRestarts",
    "podContainerReasons",
    "podContainerState",
    "hasCrashingPod",
    "podCrashLoopDetected",
    "podOOMKilledDetected",
    "podImagePullBackOffDetected",
    "podErrImagePullDetected",
    "podInvalidImageNameDetected",
    "podCreateContainerErrorDetected",
    "podRunContainerErrorDetected",
    "podPostStartHookErrorDetected",
    "podPreStartHookErrorDetected",
    "podErrorDetected",
    "pvcAccessModes",
    "pvcBound",
    "pvcCapacity",
    "pvcPhase",
    "pvcProvisioner",
    "pvcStorageClass",
    "pvcStorageClassProvisioner",
    "pvcStorageClassReclaimPolicy",
    "pvcVolumeMode",
    "parseQuantity",
    "formatQuantity",
    "sumQuantity",
    "subtractQuantity",
    "randomAlphanumeric",
    "randomBase64",
    "randomHex",
    "uuidv4",
    "allReplicasReady",
    "availableReplicas",
    "desiredReplicas",
    "readyReplicas",
    "updatedReplicas",
    "replicasReady",
    "rolloutComplete",
    "deploymentReplicaSetCount",
    "deploymentReplicaSets",
    "oldDeploymentReplicaSets",
    "replicaSetOwnerKind",
    "replicaSetOwnerName",
    "getOr",
    "getStringOr",
    "getIntOr",
    "getBoolOr",
    "semverValid",
    "semverCompare",
    "semverConstraint",
    "semverMajor",
    "semverMinor",
    "semverPatch",
    "semverBump",
    "serviceClusterIP",
    "serviceNodePort",
    "serviceLoadBalancerHost",
    "serviceLoadBalancerIP",
    "serviceEndpoints",
    "serviceEndpointCount",
    "serviceFirstEndpoint",
    "hasEndpoints",
    "endpointsReady",
    "backingPodCount",
    "backingPodNames",
    "statefulSetCurrentRevision",
    "statefulSetUpdateRevision",
    "statefulSetPVCCount",
    "toLower",
    "toUpper",
    "trim",
    "trimSpace",
    "trimPrefix",
    "trimSuffix",
    "hasPrefix",
    "hasSuffix",
    "contains",
    "replace",
    "split",
    "join",
    "concat",
    "repeat",
    "truncate",
    "camelToKebab",
    "timeSince",
    "timeUntil",
    "timeAgo",
    "timeFormat",
    "timeInWindow",
    "timeNotInWindow",
    "weekday",
    "weekend",
    "isExpired",
    "nextCron",
    "durationAdd",
    "durationSeconds",
    "durationValid",
    "len",
    "toBool",
    "toInt",
    "toFloat",
    "toString",
    "toJson",
    "toList",
    "typeOf",
    "typeBool",
    "typeList",
    "typeMap",
    "typeNull",
    "typeNumber",
    "typeString",
    "Empty",
    "isScalar",
    "isComposite",
    "isValidEmail",
    "isValidGitRepository",
    "isValidImageRef",
    "isValidJSON",
    "isValidPort",
    "isValidURL",
    "hasWarnings",
    "warningCount",
    "warningMessages",
    "warningReasons",
    "firstWarning",
    "eq",
    "ne",
    "lt",
    "gt",
    "index",
    "printf",
]


def test_orkestra_catalogue_is_defined():
    missing = [name for name in ORKESTRA_NAMES if name not in REGISTRY]
    assert missing == []
    assert len(REGISTRY) >= 200


def test_sentinel_functions_read_the_fired_set_of_the_root_context():
    """Inside a range too: they read the render's root, not the dot."""
    for name in SENTINELS:
        template = compile_template(f"{{{{ range .spec.tags }}}}{{{{ {name} }}}}{{{{ end }}}}")
        fired = {"spec": {"tags": ["x"]}, FIRED_KEY: frozenset({name})}
        assert template.render(fired) == "true", name
        assert template.render({"spec": {"tags": ["x"]}}) == "false", name


def test_every_registered_function_has_a_table_row():
    used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(source for source, _ in CASES)))
    used |= set(SENTINELS)  # test_sentinel_functions_read_the_fired_set_of_the_root_context
    untested = sorted(
        set(REGISTRY)
        - used
        - {
            "lookup",
            "print",
            "quote",
            "printf",
            "default",
            "readyReplicas",
            "getOr",
            "index",
            "eq",
            "ne",
            "lt",
            "le",
            "gt",
            "ge",
            "toJson",
            "toLower",
            "toUpper",
            "trim",
            "replace",
            "contains",
            "hasPrefix",
            "hasSuffix",
            "len",
            # Go's own builtins: tests/katalog/test_go_template_fidelity.py
            "slice",
            "println",
            "html",
            "js",
            "urlquery",
            "call",
        }
    )
    assert untested == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{{ repeat 2000000 "ab" }}', "exceeds the limit"),
        ("{{ randomHex 100000 }}", "length must be between"),
        ("{{ until 100000 }}", "more than 10000 items"),
        ('{{ regexMatch "(a+)+" "aaa" }}', "catastrophic"),
        ('{{ lookup "v1" "Secret" "ns" "x" }}', "lookup is not available"),
        ('{{ fromBase64 "%%%" }}', "not base64"),
        ('{{ semverMajor "x.y" }}', "invalid semantic version"),
        ('{{ parseQuantity "12 bananas" }}', "not a quantity"),
        ('{{ nextCron "0 0 31 2 *" }}', "never fires"),
        ("{{ clamp 10 1 5 }}", "lower bound is above"),
        ("{{ mod 1 0 }}", "division by zero"),
        ('{{ timeSince "yesterday" }}', "not an RFC 3339 time"),
    ],
)
def test_limits_and_errors_are_render_errors(source, message):
    with pytest.raises(TemplateRenderError, match=re.escape(message)):
        compile_template(source, name="t").render(CTX)


@given(st.text(max_size=200))
def test_base64_round_trip(value):
    ctx = {"v": value}
    encoded = compile_template("{{ toBase64 .v }}", name="t").render(ctx)
    assert base64.b64decode(encoded).decode() == value
    assert compile_template("{{ toBase64 .v | fromBase64 }}", name="t").render(ctx) == value


@given(st.text(max_size=300))
def test_slugify_is_a_dns_label(value):
    slug = compile_template("{{ slugify .v }}", name="t").render({"v": value})
    assert slug == "" or re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", slug)
    assert len(slug) <= 63


@given(st.text(max_size=300))
def test_truncate_name_fits_and_keeps_short_names(value):
    out = compile_template("{{ truncateName .v }}", name="t").render({"v": value})
    assert len(out) <= 63
    assert out == value or len(value) > 63


@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_clamp_stays_within_bounds(low, high, value):
    if low > high:
        low, high = high, low
    out = compile_template("{{ clamp .l .h .v }}", name="t").render(
        {"l": low, "h": high, "v": value}
    )
    assert low <= int(out) <= high


@given(st.integers(-(10**6), 10**6), st.integers(-1000, 1000).filter(bool))
def test_mod_is_gos(a, b):
    out = int(compile_template("{{ mod .a .b }}", name="t").render({"a": a, "b": b}))
    # Go: (a / b) * b + a % b == a, with / truncating toward zero.
    quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    assert quotient * b + out == a


@given(st.lists(st.sampled_from(["a", "b", "c", ",", ""]), max_size=8).map("".join))
def test_split_join_round_trip(value):
    out = compile_template('{{ split "," .v | join "," }}', name="t").render({"v": value})
    assert out == value
