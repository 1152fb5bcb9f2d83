from skynet import Service

service = Service("echo", version="1", region="us")  # SKYNET_* variables override these

@service.method()
def echo(text: str) -> str:
    return text

@service.method()
def upcase(text: str) -> str:
    return text.upper()

# Registers, serves until SIGTERM/SIGINT or `sky stop`, then leaves rotation, drains and exits.
service.serve(lambda info: print(f"python echo serving {info.service_address}, registered at {info.path}"))
