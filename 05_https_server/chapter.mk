# Chapter 05: HTTPS (TLS 1.2/1.3 on civetweb, libcurl verifying the chain).
$(eval $(call prog,05-server,05_https_server/server.c))
$(eval $(call prog,05-client,05_https_server/client.c))
