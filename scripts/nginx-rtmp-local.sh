#!/usr/bin/env bash
# nginx with Debian's RTMP module (libnginx-mod-rtmp) on 127.0.0.1: RTMP in, HLS out, as a
# third-party CDN origin for the CDN audience (providers/nginx-rtmp-*.toml).
#   scripts/nginx-rtmp-local.sh up     start it: RTMP on 127.0.0.1:19351, HTTP on 127.0.0.1:8092
#   scripts/nginx-rtmp-local.sh down   stop it and remove its files
# Two applications differ only in segment length, so a test can hold live latency against it:
#   rtmp://127.0.0.1:19351/hls1s/ROOM  ->  http://127.0.0.1:8092/hls1s/ROOM.m3u8  (1 s segments)
#   rtmp://127.0.0.1:19351/hls2s/ROOM  ->  http://127.0.0.1:8092/hls2s/ROOM.m3u8  (2 s segments)
# Needs nginx and libnginx-mod-rtmp (apt-get install nginx-light libnginx-mod-rtmp).
set -euo pipefail
DIR=${NGINX_RTMP_DIR:-/tmp/rtcbench-nginx-rtmp}
RTMP_PORT=${NGINX_RTMP_PORT:-19351}
HTTP_PORT=${NGINX_HTTP_PORT:-8092}
MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so

down() {
  if [ -f "$DIR/nginx.pid" ]; then kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true; fi
  for _ in $(seq 50); do [ -f "$DIR/nginx.pid" ] || break; sleep 0.1; done
  rm -rf "$DIR"
}

application() {
  # hls_playlist_length keeps six segments listed; a key frame every second lets either
  # fragment length be cut exactly.
  cat <<CFG
    application $1 {
      live on;
      record off;
      hls on;
      hls_path $DIR/www/$1;
      hls_fragment $2;
      hls_playlist_length $(( $2 * 6 ))s;
      hls_cleanup on;
    }
CFG
}

up() {
  down
  [ -f "$MODULE" ] || { echo "no $MODULE: apt-get install libnginx-mod-rtmp" >&2; exit 1; }
  mkdir -p "$DIR/www/hls1s" "$DIR/www/hls2s" "$DIR/tmp"
  chmod -R 0777 "$DIR/www"
  cat > "$DIR/nginx.conf" <<CFG
load_module $MODULE;
daemon on;
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:$RTMP_PORT;
    chunk_size 4096;
$(application hls1s 1)
$(application hls2s 2)
  }
}
http {
  access_log off;
  client_body_temp_path $DIR/tmp;
  proxy_temp_path $DIR/tmp;
  fastcgi_temp_path $DIR/tmp;
  uwsgi_temp_path $DIR/tmp;
  scgi_temp_path $DIR/tmp;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server {
    listen 127.0.0.1:$HTTP_PORT;
    root $DIR/www;
    add_header Cache-Control no-cache;
  }
}
CFG
  nginx -p "$DIR" -c "$DIR/nginx.conf"
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$RTMP_PORT") 2>/dev/null; then
      echo "nginx-rtmp up: rtmp://127.0.0.1:$RTMP_PORT/hls1s/ROOM, http://127.0.0.1:$HTTP_PORT/hls1s/ROOM.m3u8"
      return 0
    fi
    sleep 0.1
  done
  echo "nginx-rtmp did not answer; its log: $DIR/error.log" >&2
  return 1
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
