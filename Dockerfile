# luaedge in a container: the static binary, built on Debian 12 as `make
# build` does (LuaJIT from Debian's source package, Go as go.mod names it),
# shipped alone FROM scratch. Without a configuration it runs the embedded
# demo, on port 8080 of every address of the container:
#
#   docker build -t luaedge --build-arg VERSION=$(git describe --always) .
#   docker run --rm -p 8080:8080 luaedge
#   docker run --rm -p 80:8080 -v $PWD/conf:/etc/luaedge:ro luaedge run -c /etc/luaedge/luaedge.yaml
FROM debian:bookworm AS build
ARG VERSION=dev
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates make >/dev/null
WORKDIR /src
COPY . .
RUN make build VERSION=$VERSION && ./bin/luaedge version

FROM scratch
COPY --from=build /src/bin/luaedge /luaedge
# For scripts and backends that speak TLS.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The embedded demo binds ${LUAEDGE_DEMO_BIND:-127.0.0.1:8080}.
ENV LUAEDGE_DEMO_BIND=0.0.0.0:8080
EXPOSE 8080
USER 65534:65534
ENTRYPOINT ["/luaedge"]
CMD ["run"]
