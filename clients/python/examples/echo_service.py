from skynet import Service

# Flags (-name -version -region -host -l -admin -coordinators; -help lists them) over
# SKYNET_* variables over these defaults, as a Swift service reads them.
service = Service.from_command_line("echo", version="1", region="us")

@service.method()
def echo(text: str) -> str:
    return text

@service.method()
def upcase(text: str) -> str:
    return text.upper()

# Registers, serves until SIGTERM/SIGINT or `sky stop`, then leaves rotation, drains and exits.
service.serve(lambda info: print(f"python echo serving {info.service_address}, registered at {info.path}"))
