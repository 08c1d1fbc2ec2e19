from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from backend.api.dependencies import ChannelManager
from backend.db import DbSession
from backend.http import JsonRoute, PathId, check_name_lengths
from backend.notifications import service
from backend.notifications.schemas import ChannelCreate, ChannelCreated, ChannelRead

router = APIRouter(prefix="/v1/channels", tags=["notifications"], route_class=JsonRoute)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ChannelCreated)
def create_channel(
    spec: ChannelCreate, request: Request, session: DbSession, actor: ChannelManager
) -> ChannelCreated:
    check_name_lengths(request, name=spec.name)
    channel, generated = service.create(
        session, actor=actor, spec=spec, settings=request.app.state.settings.notify
    )
    return ChannelCreated(
        **ChannelRead.model_validate(channel).model_dump(), signing_secret=generated
    )


@router.get("", response_model=list[ChannelRead])
def list_channels(session: DbSession, actor: ChannelManager) -> list[ChannelRead]:
    return [ChannelRead.model_validate(c) for c in service.list_channels(session, actor=actor)]


@router.delete("/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_channel(channel_id: PathId, session: DbSession, actor: ChannelManager) -> Response:
    service.delete(session, actor=actor, channel_id=channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
