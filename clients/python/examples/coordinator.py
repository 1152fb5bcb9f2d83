import asyncio
import skynet

async def main():
    async with skynet.Coordinator() as c:  # SKYNET_COORDINATORS, else 127.0.0.1:8046
        rev = await c.set("/config/feature", b"on")
        rev = await c.set("/config/feature", b"off", if_rev=rev)  # RevMismatch if someone wrote meanwhile
        session = await c.open_session(ttl=5)  # kept alive until closed; its files go with it
        await c.set("/locks/job", b"me", if_rev=0, session=session.id)
        async for update in c.watch("/config/**", rev):  # from a revision; resumes after reconnects
            for event in update.events:
                print(event.kind, event.path, event.value)
            break
        await session.close()

asyncio.run(main())
