# One image holding the operator and the in-pod agent.
#   docker build -t REGISTRY/gentoo-builder:TAG .
# Base images are build arguments; the defaults are the official .NET images. Without a registry, build them
# locally (hack/local-base-images.sh does, with debootstrap) and pass:
#   --build-arg SDK_IMAGE=gentoo-builder/sdk:local --build-arg RUNTIME_IMAGE=gentoo-builder/runtime-deps:local
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/runtime-deps:10.0

FROM ${SDK_IMAGE} AS build
# The operator is compiled to native code, which the SDK links with clang (or gcc); the .NET SDK images have neither.
RUN (command -v clang || command -v gcc) >/dev/null \
 || (apt-get update && apt-get install -y --no-install-recommends clang zlib1g-dev && rm -rf /var/lib/apt/lists/*)
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props ./
COPY config/crd/ config/crd/
COPY src/ src/
# Both are self-contained single files: the agent runs inside Gentoo images that hold no .NET runtime. The operator is
# native code (Native AOT, see src/Operator/Operator.csproj) without local mode, which only runs outside a cluster; the
# agent is not native code; the bootstrap copies it into the stage3 image's container.
RUN dotnet publish src/Operator/Operator.csproj -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -p:LocalMode=false -o /out/operator \
 && dotnet publish src/Agent/Agent.csproj -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -o /out/agent

FROM ${RUNTIME_IMAGE}
# git (and ssh, for private repositories) checks out configFrom git sources in an init container of the Gentoo pods;
# the time zone database is where the operator finds spec.autoBuild.timeZone.
RUN (command -v git && command -v ssh && test -e /usr/share/zoneinfo/Europe/Berlin) >/dev/null \
 || (apt-get update && apt-get install -y --no-install-recommends git openssh-client tzdata && rm -rf /var/lib/apt/lists/*)
COPY --from=build /out/operator/gentoo-operator /usr/local/bin/gentoo-operator
# Builder pods run the agent from here; the bootstrap pod, which runs in the stage3 image, copies it into a shared
# volume with an init container (as Tekton and Argo do).
COPY --from=build /out/agent/gentoo-agent /opt/gentoo-builder/gentoo-agent
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gentoo-operator"]
