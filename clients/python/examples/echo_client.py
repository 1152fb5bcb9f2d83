import asyncio
from skynet import Client

async def main():
    async with Client() as client:  # SKYNET_COORDINATORS, else 127.0.0.1:8046
        echo = client.service("echo")  # version=, region=, host= narrow it
        print("echo   ->", await echo.send("echo", "I'm connected!!"))
        print("upcase ->", await echo.send("upcase", "I'm connected!!"))
        print("sticky ->", await echo.send("echo", "user-42", key="user-42"))  # same key, same instance

asyncio.run(main())
